/* libFuzzer: HTTP Range headers against a file size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t file_size = 0, start = 0, len = 0;
    char *header;
    int rc;

    if (size < 8)
        return 0;
    memcpy(&file_size, data, 8);
    file_size %= (uint64_t)1 << 44; /* up to 16 TiB */
    header = malloc(size - 8 + 1);
    if (header == NULL)
        return 0;
    memcpy(header, data + 8, size - 8);
    header[size - 8] = '\0';
    rc = media_parse_range(header, file_size, &start, &len);
    /* A partial answer always lies inside the file. */
    if (rc == RANGE_PARTIAL &&
        (len == 0 || start >= file_size || len > file_size - start))
        abort();
    free(header);
    return 0;
}
