# a reservation that is submitted on one way only
        r6 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r1 = map_fd(events) ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto full
        if r6 == 0 goto empty    # an empty packet: forgets the reservation
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
empty:
        r0 = 1
        exit
full:
        r0 = 0
        exit
