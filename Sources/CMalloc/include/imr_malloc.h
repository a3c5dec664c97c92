#ifndef IMR_MALLOC_H
#define IMR_MALLOC_H

/// Fixes glibc's mmap threshold at `bytes` (mallopt(M_MMAP_THRESHOLD)); setting it turns off
/// glibc's raising of the threshold as large blocks are freed, so blocks of that size or more
/// are always mapped and given back to the system when freed. Returns mallopt's result (1 on
/// success).
int imr_fix_mmap_threshold(int bytes);

/// Gives the memory malloc holds free back to the system, in every arena (malloc_trim(0)):
/// a rebuild's threads free hundreds of MB that their arenas would otherwise keep. Returns 1
/// when some was given back.
int imr_trim_memory(void);

#endif
