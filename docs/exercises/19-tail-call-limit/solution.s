# Solution: the verifier cannot count a chain of tail calls, and the kernel
# stops one only after 33 (MAX_TAIL_CALL_CNT): a chain that should end
# earlier must count itself. The count lives in a map, because a tail call
# keeps no register and no stack the verifier lets the next program read
        r6 = r1                  # the context, for bpf_tail_call
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        r1 = map_fd(count) ll
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        r1 = atomic_fetch_add((u64 *)(r0 + 0), r1)   # r1 = the runs before this one
        r1 += 1                  # with this one
        if r1 >= 10 goto done    # the tenth run stops the chain
        r1 = r6
        r2 = map_fd(jmp) ll
        r3 = 0
        call bpf_tail_call
done:
        *(u32 *)(r10 - 4) = 0    # the chain ends here (or slot 0 was empty)
        r2 = r10
        r2 += -4
        r1 = map_fd(count) ll
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)
        exit
out:
        r0 = 0
        exit
