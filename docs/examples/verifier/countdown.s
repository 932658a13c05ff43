# count down from an unknown 0..15: no constant to unroll with
        r1 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r1 &= 15
        r0 = 0
loop:
        r0 += 1
        r1 -= 1
        if r1 s> 0 goto loop
        r0 = 0
        exit
