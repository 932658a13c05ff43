# sum = 10 + 9 + ... + 1, then skip over a lddw when r1 == 0
        r0 = 0
        r1 = 10
top:
        r0 += r1
        r1 += -1
        if r1 != 0 goto top     # backward: target 2, next slot 5, off = 2 - 5 = -3
        if r1 == 0 goto out     # forward:  target 9, next slot 6, off = 9 - 6 = +3
        r2 = 0x100000000 ll     # slots 6 and 7
        r0 += r2
out:
        exit
