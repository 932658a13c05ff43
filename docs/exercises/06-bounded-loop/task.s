# Goal: return 10 + 9 + ... + 1
        r0 = 0
        r1 = 10
top:
        r0 += r1
        r1 += 1
        if r1 != 0 goto top
        exit
