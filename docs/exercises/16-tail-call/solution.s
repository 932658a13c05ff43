# Solution: bpf_tail_call does not return when it jumps; when it cannot
# (an empty slot, an index past the end, the 34th call in a chain) the
# program goes on after it, and r0, like r1-r5, holds nothing readable
        r2 = map_fd(jmp) ll
        r3 = 0
        call bpf_tail_call
        r0 = 1                   # only reached when the tail call did not happen
        exit
