# return the packet length... but the load went to r2
        r2 = *(u32 *)(r1 + 0)    # __sk_buff.len
        exit
