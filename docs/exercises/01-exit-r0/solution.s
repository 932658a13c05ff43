# Solution: the result must be in r0 at exit
        r0 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r0 <<= 1                 # 10 * 2 = 20
        exit
