# r0 = (r1 + 22) * 2, as a 32-bit result
    r0 = r1
    r0 += 22
    w0 *= 2
    exit
