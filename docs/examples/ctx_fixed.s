# __sk_buff.protocol is the u32 at offset 16
        r0 = *(u32 *)(r1 + 16)
        exit
