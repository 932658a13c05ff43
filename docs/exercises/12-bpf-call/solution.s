# Solution: keep len in a callee-saved register (r6-r9) across the call
        r6 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r1 = r6                  # the argument
        call double
        r0 += r6                 # r6 survived the call
        exit
double:
        r0 = r1
        r0 <<= 1
        exit
