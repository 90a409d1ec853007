// The public umbrella header compiles alone as C++.
#include <korch.h>

int main()
{
	return korch_strerror(KORCH_ENOTFOUND) ? 0 : 1;
}
