/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Stub arm_arch.h satisfying the #include in chacha-armv4.S /
 * poly1305-armv4.S. Architecture macros are supplied via the cpp
 * command line (-D__ARM_ARCH__=N -D__ARM_MAX_ARCH__=M).
 */
#ifndef ARM_ARCH_H
#define ARM_ARCH_H
#endif
