/*
 * version.c - the library's version at run time.
 */
#include "config.h"
#include <korch/version.h>

KORCH_EXPORT const char *
korch_version(void)
{
	return KORCH_VERSION;
}
