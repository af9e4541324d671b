/* nap.c - sleeping until a deadline or a stop. */
#include "fs/nap.h"

#include <time.h>

int nap(pthread_mutex_t *lock, pthread_cond_t *cond, const int *stop, int *wake, long ms)
{
	struct timespec until;
	int r;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(lock);
	while (!*stop && !(wake && *wake) && pthread_cond_timedwait(cond, lock, &until) == 0)
		;
	if (wake)
		*wake = 0;
	r = *stop;
	pthread_mutex_unlock(lock);
	return r;
}
