# Goal: return __sk_buff.len + __sk_buff.protocol
        r6 = r1
        r0 = *(u32 *)(r6 + 0)    # __sk_buff.len
        r6 += 16                 # on to __sk_buff.protocol
        r2 = *(u32 *)(r6 + 0)
        r0 += r2
        exit
