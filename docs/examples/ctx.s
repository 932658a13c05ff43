# return __sk_buff.protocol... at the wrong offset
        r0 = *(u32 *)(r1 + 200)
        exit
