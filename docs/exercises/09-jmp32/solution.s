# Solution: compare the low 32 bits as a signed 32-bit number (JMP32)
        w1 = -1
        r0 = 2
        if w1 s>= 0 goto out
        r0 = 1
out:
        exit
