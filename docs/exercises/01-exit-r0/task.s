# Goal: return twice the packet length
        r2 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r2 <<= 1
        exit
