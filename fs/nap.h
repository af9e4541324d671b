/* nap.h - sleeping in a background thread that must wake at once when it
 * is told to stop. */
#ifndef MAILFS_NAP_H
#define MAILFS_NAP_H

#include <pthread.h>

/* Sleep MS milliseconds, or less: until *STOP (read under LOCK) is true and
 * COND was signalled, or *WAKE is (when WAKE is not NULL; it is cleared).
 * Returns *STOP. */
int nap(pthread_mutex_t *lock, pthread_cond_t *cond, const int *stop, int *wake, long ms);

#endif
