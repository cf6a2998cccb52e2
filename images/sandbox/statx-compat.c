/*
 * statx-compat: `ls -l` and `stat` under older gVisor kernels.
 *
 * gVisor before 2023 (Debian bookworm's runsc is the 2022-12 build) refuses statx(2)
 * calls carrying AT_NO_AUTOMOUNT with EINVAL, and coreutils 9 passes that flag on
 * every `ls -l`, `ls <file>` and `stat`: they all fail with "Invalid argument". Linux
 * accepts the flag, and it changes nothing outside autofs mounts, which a sandbox has
 * none of. Preloaded into every process of the image (/etc/ld.so.preload), this
 * wrapper retries such a call without the flag when, and only when, the kernel refused
 * it with EINVAL; on a kernel that accepts the flag it never changes a call.
 *
 * Built by `warden image build` with the host's C compiler (scripts/setup installs it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

typedef int (*statx_fn)(int, const char *, int, unsigned int, struct statx *);

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    static statx_fn real;
    if (real == 0) {
        real = (statx_fn)dlsym(RTLD_NEXT, "statx");
        if (real == 0) {
            errno = ENOSYS;
            return -1;
        }
    }
    int ret = real(dirfd, path, flags, mask, buf);
    if (ret == -1 && errno == EINVAL && (flags & AT_NO_AUTOMOUNT)) {
        ret = real(dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
    }
    return ret;
}
