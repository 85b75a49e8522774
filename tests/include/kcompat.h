/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcompat.h -- the few kernel types and helpers kmod/ccid_engine.c uses,
 * for building the engine in userspace (unit tests, fuzzing).
 */
#ifndef CCID_KCOMPAT_H
#define CCID_KCOMPAT_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef uint16_t __le16;
typedef uint32_t __le32;

#define cpu_to_le16(x) htole16(x)
#define cpu_to_le32(x) htole32(x)
#define le16_to_cpu(x) le16toh(x)
#define le32_to_cpu(x) le32toh(x)

static inline u16 get_unaligned_le16(const void *p)
{
	const u8 *b = p;

	return (u16)(b[0] | b[1] << 8);
}

static inline u32 get_unaligned_le32(const void *p)
{
	const u8 *b = p;

	return (u32)b[0] | (u32)b[1] << 8 | (u32)b[2] << 16 |
	       (u32)b[3] << 24;
}

static inline void put_unaligned_le32(u32 v, void *p)
{
	u8 *b = p;

	b[0] = v;
	b[1] = v >> 8;
	b[2] = v >> 16;
	b[3] = v >> 24;
}

/*
 * The CCID class descriptor (CCID Rev 1.1, table 5.1-1) as the kernel's
 * include/linux/usb/ccid.h declares it, for the userspace builds
 */
struct ccid_descriptor {
	u8 bLength;
	u8 bDescriptorType;
	__le16 bcdCCID;
	u8 bMaxSlotIndex;
	u8 bVoltageSupport;
	__le32 dwProtocols;
	__le32 dwDefaultClock;
	__le32 dwMaximumClock;
	u8 bNumClockSupported;
	__le32 dwDataRate;
	__le32 dwMaxDataRate;
	u8 bNumDataRatesSupported;
	__le32 dwMaxIFSD;
	__le32 dwSynchProtocols;
	__le32 dwMechanical;
	__le32 dwFeatures;
	__le32 dwMaxCCIDMessageLength;
	u8 bClassGetResponse;
	u8 bClassEnvelope;
	__le16 wLcdLayout;
	u8 bPINSupport;
	u8 bMaxCCIDBusySlots;
} __attribute__((packed));

#ifndef U32_MAX
#define U32_MAX UINT32_MAX
#endif
#define min_t(type, a, b) ((type)(a) < (type)(b) ? (type)(a) : (type)(b))
#define max_t(type, a, b) ((type)(a) > (type)(b) ? (type)(a) : (type)(b))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define fallthrough __attribute__((__fallthrough__))

#endif /* CCID_KCOMPAT_H */
