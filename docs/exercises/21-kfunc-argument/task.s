# Goal: count the numbers 0..99 that are multiples of 3 (34), with a u32
# counter at r10 - 4 and the number iterator right below it
        *(u32 *)(r10 - 4) = 0    # the counter
        r1 = r10
        r1 += -12                # the iterator, below the counter
        r2 = 0
        r3 = 100
        call kfunc(bpf_iter_num_new)
next:
        r1 = r10
        r1 += -12
        call kfunc(bpf_iter_num_next)
        if r0 == 0 goto done
        r1 = *(u32 *)(r0 + 0)
        r1 %= 3
        if r1 != 0 goto next
        r1 = *(u32 *)(r10 - 4)
        r1 += 1
        *(u32 *)(r10 - 4) = r1
        goto next
done:
        r1 = r10
        r1 += -12
        call kfunc(bpf_iter_num_destroy)
        r0 = *(u32 *)(r10 - 4)
        exit
