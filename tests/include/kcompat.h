/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcompat.h -- the few kernel types and helpers kmod/ccid_engine.c uses,
 * for building the engine in userspace (unit tests, fuzzing).
 */
#ifndef CCID_KCOMPAT_H
#define CCID_KCOMPAT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#ifndef U32_MAX
#define U32_MAX UINT32_MAX
#endif
#define min_t(type, a, b) ((type)(a) < (type)(b) ? (type)(a) : (type)(b))
#define max_t(type, a, b) ((type)(a) > (type)(b) ? (type)(a) : (type)(b))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define fallthrough __attribute__((__fallthrough__))

#endif /* CCID_KCOMPAT_H */
