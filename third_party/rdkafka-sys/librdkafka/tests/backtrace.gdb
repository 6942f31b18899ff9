p *test
bt full
list

p *rk
p *rkb
p *rkb.rkb_rk

up
p *rk
p *rkb
p *rkb.rkb_rk

up
p *rk
p *rkb
p *rkb.rkb_rk

up
p *rk
p *rkb
p *rkb.rkb_rk

up
p *rk
p *rkb
p *rkb.rkb_rk

thread apply all bt
quit
