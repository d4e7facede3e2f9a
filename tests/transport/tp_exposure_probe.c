/*
 * Run as another user by tp_exposure.sh: try to attach every SysV shared
 * memory segment ("shm:ID") and open every file ("file:PATH") named on the
 * command line, read-only. Prints one line per object; exits 1 if any could
 * be attached or opened (a job's memory must be private to its user), 0 if
 * every attempt was refused, 2 for bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

/* 1 if the object could be reached, 0 if refused, -1 for a bad argument. */
static int probe_one(const char *what)
{
    if (strncmp(what, "shm:", 4) == 0) {
        char *end;
        long id = strtol(what + 4, &end, 10);
        void *at;

        if (*end != '\0' || id < 0) {
            return -1;
        }
        at = shmat((int)id, NULL, SHM_RDONLY);
        if (at == (void *)-1) {
            printf("%s: refused (%s)\n", what, strerror(errno));
            return 0;
        }
        printf("%s: ATTACHED (first byte %#x)\n", what, *(unsigned char *)at);
        shmdt(at);
        return 1;
    }
    if (strncmp(what, "file:", 5) == 0) {
        int fd = open(what + 5, O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
            printf("%s: refused (%s)\n", what, strerror(errno));
            return 0;
        }
        printf("%s: OPENED\n", what);
        close(fd);
        return 1;
    }
    return -1;
}

int main(int argc, char **argv)
{
    int reached = 0;

    printf("probing as uid %d gid %d\n", (int)getuid(), (int)getgid());
    for (int i = 1; i < argc; i++) {
        int result = probe_one(argv[i]);

        if (result < 0) {
            fprintf(stderr, "usage: %s shm:ID|file:PATH...\n", argv[0]);
            return 2;
        }
        reached += result;
    }
    return reached > 0;
}
