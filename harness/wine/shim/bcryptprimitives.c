/*
 * bcryptprimitives.dll for Wine 8.0, which has none: Go's Windows runtime
 * (1.22 and later) loads it at start-up for ProcessPrng and aborts without
 * it. ProcessPrng fills a buffer with cryptographically random bytes and
 * always returns TRUE on Windows; here it forwards to advapi32's
 * SystemFunction036 (RtlGenRandom), which Wine implements over the host's
 * random source, and reports that function's result.
 *
 * Test support only: built by scripts/wine-lane.sh with mingw-w64 into a
 * cache directory and copied into the Wine prefix's system32. Never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    /* SystemFunction036 takes a ULONG length; feed it in bounded chunks. */
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst; (void)reason; (void)reserved;
    return TRUE;
}
