# sum 0..9 with the open-coded iterator kfuncs: new, next until NULL, destroy
        r6 = 0
        r1 = r10
        r1 += -8                 # a struct bpf_iter_num (8 bytes) on the stack
        r2 = 0                   # start
        r3 = 10                  # end (exclusive)
        call kfunc(bpf_iter_num_new)
next:
        r1 = r10
        r1 += -8
        call kfunc(bpf_iter_num_next)
        if r0 == 0 goto done     # NULL: the range is used up
        r1 = *(u32 *)(r0 + 0)    # r0 points at the current int
        r6 += r1
        goto next
done:
        r1 = r10
        r1 += -8
        call kfunc(bpf_iter_num_destroy)
        r0 = r6
        exit
