# load-acquire and store-release (Linux 6.15): r0 = the u16 load-acquired from a u64 store-release << 8 | the byte
        w1 = 0x12
        *(u8 *)(r10 - 1) = w1
        w0 = load_acquire((u8 *)(r10 - 1))          # 0x12, zero-extended to 64 bits
        r2 = 0x1122334455667788 ll
        store_release((u64 *)(r10 - 16), r2)
        w3 = load_acquire((u16 *)(r10 - 16))        # 0x7788: little-endian, the low bytes first
        r3 <<= 8
        r0 |= r3
        exit
