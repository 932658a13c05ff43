# Goal: jump to the program in slot 0 of `jmp`; if there is none, return 1
        r2 = map_fd(jmp) ll
        r3 = 0
        call bpf_tail_call
        exit
