#include "imr_malloc.h"

#include <malloc.h>

int imr_fix_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}

int imr_trim_memory(void) {
    return malloc_trim(0);
}
