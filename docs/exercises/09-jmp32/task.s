# Goal: return 1 if the 32-bit value in w1 is negative, else 2
        w1 = -1
        r0 = 2
        if r1 s>= 0 goto out
        r0 = 1
out:
        exit
