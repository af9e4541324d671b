/* testutil.h - what every cmocka unit test includes. */
#ifndef MAILFS_TESTUTIL_H
#define MAILFS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
