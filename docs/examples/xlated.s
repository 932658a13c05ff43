# a context load, a signed division by a register, a may_goto loop
        r0 = *(u32 *)(r1 + 0)           # __sk_buff.len
        r2 = 0
        r3 = 7
        r3 s/= r0
loop:
        r2 += 1
        may_goto out
        goto loop
out:
        exit
