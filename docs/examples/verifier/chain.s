# count the runs of this program in `count`, then tail-call slot 0 of `jmp`
        r6 = r1                  # the context: bpf_tail_call's first argument
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        r1 = map_fd(count) ll
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1   # one more run
        r1 = r6
        r2 = map_fd(jmp) ll
        r3 = 0
        call bpf_tail_call       # when it jumps, it does not come back
        *(u32 *)(r10 - 4) = 0    # here only when it did not jump
        r2 = r10
        r2 += -4
        r1 = map_fd(count) ll
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)    # how many times the program ran
        exit
out:
        r0 = 0
        exit
