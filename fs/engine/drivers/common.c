/* common.c - what the IMAP and POP3 drivers share. */
#include "fs/engine/drivers/driver.h"
#include "fs/options.h"
#include "net/conn.h"


void driver_conn_params(const struct driver_params *p, struct conn_params *c)
{
	c->host = p->opt->host;
	c->port = p->opt->port;
	c->implicit_tls = p->opt->implicit_tls;
	c->tls = p->tls;
	c->timeout_ms = p->opt->timeout * 1000;
}
