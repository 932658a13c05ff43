# count down from any u32: the verifier walks it round by round into its limit
        r1 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r0 = 0
loop:
        r0 += 1
        r1 -= 1
        if r1 != 0 goto loop
        exit
