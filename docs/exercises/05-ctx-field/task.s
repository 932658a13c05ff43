# Goal: return __sk_buff.protocol
        r0 = *(u64 *)(r1 + 16)
        exit
