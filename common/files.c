/* Small file and text helpers shared by tools and benchmarks. */
#include <stdio.h>

#include "dsm_common.h"

long dsm_file_read_long(const char *path)
{
    long value = -1;
    FILE *file = fopen(path, "r");

    if (file != NULL) {
        if (fscanf(file, "%ld", &value) != 1) {
            value = -1;
        }
        fclose(file);
    }
    return value;
}

void dsm_json_write_string(FILE *stream, const char *text)
{
    fputc('"', stream);
    for (; *text; text++) {
        if (*text == '"' || *text == '\\') {
            fputc('\\', stream);
        }
        if ((unsigned char)*text >= 0x20) { /* control characters are dropped */
            fputc(*text, stream);
        }
    }
    fputc('"', stream);
}
