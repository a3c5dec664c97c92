#ifndef IMR_MALLOC_H
#define IMR_MALLOC_H

/// Fixes glibc's mmap threshold at `bytes` (mallopt(M_MMAP_THRESHOLD)); setting it turns off
/// glibc's raising of the threshold as large blocks are freed, so blocks of that size or more
/// are always mapped and given back to the system when freed. Returns mallopt's result (1 on
/// success).
int imr_fix_mmap_threshold(int bytes);

#endif
