/* The public umbrella header compiles alone as strict C99. */
#include <korch.h>

int
main(void)
{
	return korch_strerror(KORCH_ENOTFOUND) ? 0 : 1;
}
