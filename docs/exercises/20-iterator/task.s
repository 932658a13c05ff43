# Goal: return the sum of the squares of 1..5 (55), with the number iterator
        r6 = 0
        r1 = r10
        r1 += -8                 # the iterator: 8 bytes on the stack
        r2 = 1
        r3 = 6                   # [1, 6)
        call kfunc(bpf_iter_num_new)
next:
        r1 = r10
        r1 += -8
        call kfunc(bpf_iter_num_next)
        if r0 == 0 goto done
        r1 = *(u32 *)(r0 + 0)
        r1 *= r1
        r6 += r1
        goto next
done:
        r0 = r6
        exit
