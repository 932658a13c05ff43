# Goal: run this program 10 times in a chain of tail calls (slot 0 of
# `jmp` holds the program itself), then return how often it ran
        r6 = r1                  # the context, for bpf_tail_call
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
        call bpf_tail_call
        *(u32 *)(r10 - 4) = 0    # the tail call did not happen
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
