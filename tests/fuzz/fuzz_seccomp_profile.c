/*
 * libFuzzer target: the seccomp profile loader (JSON in the OCI or Docker format), and the
 * compiler for every profile it accepts. Any input must give a profile or a clear error, with no
 * crash, leak or undefined behaviour. libseccomp runs in a child with a time limit well below
 * the fuzzer's one-second timeout: an input it cannot compile in time is a clear error too.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "runtime/seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seccomp_profile *p = NULL;
	korch_error *err = NULL;
	seccomp_compile_timeout_ms = 300;
	if (seccomp_profile_parse((const char *)data, size, "fuzz", &p, &err) < 0) {
		/* Every failure carries a message. */
		if (!err || !korch_error_message(err)[0])
			__builtin_trap();
		korch_error_free(err);
		return 0;
	}
	struct seccomp_program *prog = NULL;
	if (seccomp_compile(p, 0xa80425fb, &prog, &err) == 0)
		seccomp_program_unref(prog);
	else
		korch_error_free(err);
	seccomp_profile_free(p);
	return 0;
}
