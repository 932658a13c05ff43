# sum 0..9 in a bounded loop
        r0 = 0
        r1 = 0
loop:
        r0 += r1
        r1 += 1
        if r1 < 10 goto loop
        exit
