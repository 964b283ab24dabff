/* The one translation unit of the test build that holds the implementation,
   as a user's project would. Configuration comes from the compiler flags
   (the Makefile builds the suite once per configuration). One setting is
   the suites' own (those that compile this file themselves, MVT_PARTIAL_SUITE;
   build/medvol.o is also the library and the tools, and keeps the default):
   one gzip member splits across threads from reads of 512 KiB (the shipped
   16 MiB would need files of 32 MiB and more), so the gzip and load tests'
   files take the speculative path (see >>impl-gzip). */
#if defined(MVT_PARTIAL_SUITE) && !defined(MEDVOL_GZIP_PARALLEL_CHUNK)
#define MEDVOL_GZIP_PARALLEL_CHUNK ((size_t)256 << 10)
#endif
#define MEDVOL_IMPLEMENTATION
#include "../medvol.h"
