# a BPF-to-BPF call: double the packet length in a subprogram
        r1 = *(u32 *)(r1 + 0)    # __sk_buff.len
        call double
        exit
double:
        r0 = r1
        r0 += r1
        exit
