# Solution: count r1 down, so the loop ends after 10 rounds (the verifier
# walks them all, 10 x 3 instructions); r1 += 1 would take 2^64 - 10 rounds
        r0 = 0
        r1 = 10
top:
        r0 += r1
        r1 += -1
        if r1 != 0 goto top
        exit
