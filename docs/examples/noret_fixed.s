# return the packet length
        r0 = *(u32 *)(r1 + 0)    # __sk_buff.len
        exit
