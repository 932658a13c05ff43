# bpf_loop: the helper calls cb 100 times; cb is verified once, in a frame of its own
        r1 = 100
        r2 = func(cb) ll
        r3 = 0
        r4 = 0
        call bpf_loop
        r0 = 0
        exit
cb:
        r0 = 0
        exit
