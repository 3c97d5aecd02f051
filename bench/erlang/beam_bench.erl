%% The BEAM side of the Grove benchmark suite: the same workloads as
%% bench/grove_bench.c, written the way an Erlang programmer would.
%%
%% Run as: erl -noshell +S 2:2 +P 2097152 -pa DIR -run beam_bench main NAME
%% Prints one number (the figure) on stdout; a wrong result prints a
%% message on stderr and halts with status 1.
%%
%% The DynamicSupervisor and Registry workloads use Elixir's modules,
%% called from here: Elixir's ebin directory must be on the code path
%% (bench/run.sh adds it). `-run beam_bench main NAME erlang` runs the
%% dynsup_* workloads on Erlang's own simple_one_for_one supervisor
%% instead.
-module(beam_bench).
-export([main/1]).

-define(SPAWN_TOTAL, 1000000).
-define(SPAWN_BATCH, 10000).
-define(RING_SIZE, 1000).
-define(RING_HOPS, 1000000).
-define(PINGPONG_TRIPS, 1000000).
-define(SKYNET_SIZE, 1000000).
-define(SKYNET_DIV, 10).
-define(SKYNET_SUM, 499999500000).
-define(IDLE_PROCS, 100000).
-define(IDLE_SETTLE_MS, 2500).
-define(CALL_TOTAL, 1000000).
-define(RESTART_TOTAL, 100000).
%% OTP's supervisor keeps its restart history in a list it scans on every
%% restart; a fresh supervisor every RESTART_CHUNK restarts keeps that
%% bookkeeping out of the figure.
-define(RESTART_CHUNK, 100).
-define(IDLE_SERVERS, 100000).
-define(SUP_CHILDREN, 1000).
-define(DYNSUP_CHILDREN, 100000).
-define(DYNSUP_POLL_MS, 10).
-define(MAX_RESTARTS, 1000000).
-define(REG_PROCS, 100000).
-define(LOOKUP_TOTAL, 1000000).
-define(LOOKUP_WORKERS, 2).
-define(ECHO_CONNS, "100").
-define(ECHO_SECONDS, "3").
-define(FANOUT_MEMBERS, 1000).
-define(FANOUT_MESSAGES, 1000).

main([Name]) ->
    main([Name, "elixir"]);
main([Name, Flavour]) ->
    put(flavour, list_to_atom(Flavour)),
    Result = try run(list_to_atom(Name))
             catch Class:Reason:Stack -> {error, {Class, Reason, Stack}}
             end,
    case Result of
        {ok, Figure} ->
            io:format("~.3f~n", [float(Figure)]),
            halt(0);
        {error, What} ->
            io:format(standard_error, "beam_bench ~s: ~p~n", [Name, What]),
            halt(1)
    end;
main(_) ->
    io:format(standard_error, "usage: beam_bench NAME~n", []),
    halt(2).

run(spawn_exit) -> spawn_exit();
run(ring_hop) -> ring_hop();
run(pingpong) -> pingpong();
run(skynet) -> skynet();
run(idle_process_bytes) -> idle_process_bytes();
run(call) -> call();
run(restart) -> restart();
run(idle_genserver_bytes) -> idle_genserver_bytes();
run(sup_start_1k) -> sup_1k(start);
run(sup_shutdown_1k) -> sup_1k(shutdown);
run(dynsup_start_100k) -> dynsup(start);
run(dynsup_shutdown_100k) -> dynsup(shutdown);
run(dynsup_restart_all_100k) -> dynsup(restart_all);
run(registry_register) -> registry(register);
run(registry_lookup) -> registry(lookup);
run(wake_100k) -> registry(wake);
run(tcp_echo_rps) -> tcp_echo_rps();
run(chat_fanout) -> chat_fanout();
run(Other) -> {error, {unknown_workload, Other}}.

now_ns() -> erlang:monotonic_time(nanosecond).

%% spawn_exit: ns per process. Children are spawned in batches so the
%% number alive at once stays bounded, each with a monitor, and a batch is
%% done when every child's 'DOWN' has arrived: the child has exited, not
%% just started to. DOWN messages come from many exiting processes at
%% once, which is what off_heap message queues are for.
spawn_exit() ->
    process_flag(message_queue_data, off_heap),
    T0 = now_ns(),
    Done = spawn_batches(?SPAWN_TOTAL, 0),
    T1 = now_ns(),
    check(Done =:= ?SPAWN_TOTAL, {exited_normally, Done}),
    {ok, (T1 - T0) / ?SPAWN_TOTAL}.

spawn_batches(0, Done) ->
    Done;
spawn_batches(Left, Done) ->
    N = min(Left, ?SPAWN_BATCH),
    spawn_monitor_n(N),
    spawn_batches(Left - N, Done + collect_down(N, 0)).

spawn_monitor_n(0) -> ok;
spawn_monitor_n(N) -> spawn_monitor(fun() -> ok end), spawn_monitor_n(N - 1).

%% Counts the DOWNs whose reason is normal; any other reason leaves the
%% count short and fails the check.
collect_down(0, Count) ->
    Count;
collect_down(N, Count) ->
    receive
        {'DOWN', _Ref, process, _Pid, normal} ->
            collect_down(N - 1, Count + 1);
        {'DOWN', _Ref, process, _Pid, _Reason} ->
            collect_down(N - 1, Count)
    end.

spawn_n(0, _Fun) -> ok;
spawn_n(N, Fun) -> spawn(Fun), spawn_n(N - 1, Fun).

%% ring_hop: ns per hop. The token carries the hops still to make; the
%% node that gets 0 reports its index, which must be HOPS rem SIZE.
ring_hop() ->
    Self = self(),
    Nodes = [spawn(fun() -> ring_node_init(I, Self) end)
             || I <- lists:seq(0, ?RING_SIZE - 1)],
    [First | Rest] = Nodes,
    lists:foreach(fun({Node, Next}) -> Node ! {next, Next} end,
                  lists:zip(Nodes, Rest ++ [First])),
    T0 = now_ns(),
    First ! ?RING_HOPS,
    Last = receive {ring_done, Index} -> Index end,
    T1 = now_ns(),
    lists:foreach(fun(Node) -> Node ! stop end, Nodes),
    Expect = ?RING_HOPS rem ?RING_SIZE,
    check(Last =:= Expect, {finished_at, Last, expected, Expect}),
    {ok, (T1 - T0) / ?RING_HOPS}.

ring_node_init(Index, Main) ->
    receive {next, Next} -> ring_node(Next, Index, Main) end.

ring_node(Next, Index, Main) ->
    receive
        0 ->
            Main ! {ring_done, Index},
            ring_node(Next, Index, Main);
        Hops when is_integer(Hops) ->
            Next ! Hops - 1,
            ring_node(Next, Index, Main);
        stop ->
            ok
    end.

%% pingpong: ns per round trip between two processes.
pingpong() ->
    Self = self(),
    Ponger = spawn(fun() -> ponger(0) end),
    T0 = now_ns(),
    ping(Ponger, Self, ?PINGPONG_TRIPS),
    T1 = now_ns(),
    Ponger ! {stop, Self},
    Count = receive {pong_count, C} -> C end,
    check(Count =:= ?PINGPONG_TRIPS, {round_trips, Count}),
    {ok, (T1 - T0) / ?PINGPONG_TRIPS}.

ping(_Ponger, _Self, 0) ->
    ok;
ping(Ponger, Self, N) ->
    Ponger ! {ping, Self},
    receive pong -> ping(Ponger, Self, N - 1) end.

ponger(Count) ->
    receive
        {ping, From} ->
            From ! pong,
            ponger(Count + 1);
        {stop, From} ->
            From ! {pong_count, Count}
    end.

%% skynet: ms for the whole tree of 1,000,000 leaves.
skynet() ->
    Self = self(),
    T0 = now_ns(),
    spawn(fun() -> skynet(Self, 0, ?SKYNET_SIZE, ?SKYNET_DIV) end),
    Sum = receive S -> S end,
    T1 = now_ns(),
    check(Sum =:= ?SKYNET_SUM, {sum, Sum}),
    {ok, (T1 - T0) / 1000000}.

skynet(Parent, Num, 1, _Div) ->
    Parent ! Num;
skynet(Parent, Num, Size, Div) ->
    Self = self(),
    Sub = Size div Div,
    skynet_spawn(Self, Num, Sub, Div, 0),
    Parent ! skynet_sum(Div, 0).

skynet_spawn(_Self, _Num, _Sub, Div, Div) ->
    ok;
skynet_spawn(Self, Num, Sub, Div, I) ->
    Child = Num + I * Sub,
    spawn(fun() -> skynet(Self, Child, Sub, Div) end),
    skynet_spawn(Self, Num, Sub, Div, I + 1).

skynet_sum(0, Sum) -> Sum;
skynet_sum(N, Sum) -> receive S -> skynet_sum(N - 1, Sum + S) end.

%% idle_process_bytes: growth of the OS process's resident set per idle
%% process, read from /proc/self/statm as the other two sides do.
idle_process_bytes() ->
    process_flag(message_queue_data, off_heap),
    PageSize = page_size(),
    Before = rss_pages(),
    Self = self(),
    spawn_n(?IDLE_PROCS, fun() -> Self ! ready, receive stop -> ok end end),
    Ready = collect_ready(?IDLE_PROCS, 0),
    check(Ready =:= ?IDLE_PROCS, {ready, Ready}),
    timer:sleep(?IDLE_SETTLE_MS),
    After = rss_pages(),
    {ok, (After - Before) * PageSize / ?IDLE_PROCS}.

collect_ready(0, Count) -> Count;
collect_ready(N, Count) -> receive ready -> collect_ready(N - 1, Count + 1) end.

rss_pages() ->
    {ok, Statm} = file:read_file("/proc/self/statm"),
    [_Size, Resident | _] = binary:split(Statm, <<" ">>, [global]),
    binary_to_integer(Resident).

page_size() ->
    case string:to_integer(os:cmd("getconf PAGESIZE")) of
        {N, _} when is_integer(N), N > 0 -> N;
        _ -> 4096
    end.

%% call: ns per gen_server:call round trip to one server.
call() ->
    {ok, Pid} = bench_server:start(),
    T0 = now_ns(),
    call_loop(Pid, 0),
    T1 = now_ns(),
    Count = gen_server:call(Pid, count),
    ok = gen_server:stop(Pid),
    check(Count =:= ?CALL_TOTAL, {calls_served, Count}),
    {ok, (T1 - T0) / ?CALL_TOTAL}.

call_loop(_Pid, ?CALL_TOTAL) ->
    ok;
call_loop(Pid, I) ->
    Reply = gen_server:call(Pid, {call, I}, infinity),
    check(Reply =:= I + 1, {wrong_reply, I, Reply}),
    call_loop(Pid, I + 1).

%% restart: us from killing the permanent, locally registered child of a
%% one_for_one supervisor to its replacement answering a call by name.
%% Only kill-to-answer is timed; a fresh supervisor every RESTART_CHUNK
%% restarts, started and stopped outside the timing.
restart() ->
    Self = self(),
    Child = #{id => worker,
              start => {bench_server, start_link_named, [bench_worker, Self]},
              restart => permanent},
    Flags = #{strategy => one_for_one, intensity => ?MAX_RESTARTS,
              period => 5},
    Total = restart_chunks(Flags, Child, 0, 0),
    {ok, Total / ?RESTART_TOTAL / 1000}.

restart_chunks(_Flags, _Child, ?RESTART_TOTAL, Total) ->
    Total;
restart_chunks(Flags, Child, Done, Total) ->
    {ok, Sup} = bench_sup:start_link(Flags, [Child]),
    receive ready -> ok end,
    N = min(?RESTART_CHUNK, ?RESTART_TOTAL - Done),
    Chunk = restart_loop(Done, Done + N, 0),
    ok = gen_server:stop(Sup),
    restart_chunks(Flags, Child, Done + N, Total + Chunk).

restart_loop(End, End, Total) ->
    Total;
restart_loop(I, End, Total) ->
    Old = whereis(bench_worker),
    T0 = now_ns(),
    exit(Old, kill),
    receive ready -> ok end,
    Reply = gen_server:call(bench_worker, {call, I}, infinity),
    T1 = now_ns(),
    check(Reply =:= I + 1, {wrong_reply, I, Reply}),
    New = whereis(bench_worker),
    check(New =/= Old andalso is_pid(New), {not_restarted, I}),
    restart_loop(I + 1, End, Total + (T1 - T0)).

%% idle_genserver_bytes: growth of the resident set per idle gen_server.
idle_genserver_bytes() ->
    PageSize = page_size(),
    Before = rss_pages(),
    start_servers(?IDLE_SERVERS),
    timer:sleep(?IDLE_SETTLE_MS),
    After = rss_pages(),
    Alive = erlang:system_info(process_count),
    check(Alive >= ?IDLE_SERVERS, {processes_alive, Alive}),
    {ok, (After - Before) * PageSize / ?IDLE_SERVERS}.

start_servers(0) -> ok;
start_servers(N) -> {ok, _} = bench_server:start(), start_servers(N - 1).

%% sup_start_1k, sup_shutdown_1k: ms to start a one_for_one supervisor
%% with 1,000 gen_server children, and to stop it.
sup_1k(Figure) ->
    Children = [#{id => I, start => {bench_server, start_link, [none]}}
                || I <- lists:seq(1, ?SUP_CHILDREN)],
    T0 = now_ns(),
    {ok, Sup} = bench_sup:start_link(#{strategy => one_for_one}, Children),
    T1 = now_ns(),
    Active = proplists:get_value(active, supervisor:count_children(Sup)),
    check(Active =:= ?SUP_CHILDREN, {active, Active}),
    Pids = [Pid || {_, Pid, _, _} <- supervisor:which_children(Sup)],
    T2 = now_ns(),
    ok = gen_server:stop(Sup),
    T3 = now_ns(),
    check(not lists:any(fun erlang:is_process_alive/1, Pids),
          child_outlived_supervisor),
    case Figure of
        start -> {ok, (T1 - T0) / 1000000};
        shutdown -> {ok, (T3 - T2) / 1000000}
    end.

%% dynsup_*: a dynamic supervisor with 100,000 gen_server children: ns
%% per start_child, ms to stop it, ms from killing every child to all of
%% them restarted. Elixir's DynamicSupervisor, or with the erlang flavour
%% OTP's simple_one_for_one supervisor.
dynsup(Figure) ->
    process_flag(message_queue_data, off_heap),
    Self = self(),
    Notify = case Figure of restart_all -> Self; _ -> none end,
    Flavour = get(flavour),
    Sup = dynsup_start(Flavour),
    T0 = now_ns(),
    Pids = dynsup_start_children(Flavour, Sup, Notify, ?DYNSUP_CHILDREN, []),
    T1 = now_ns(),
    Active0 = dynsup_active(Flavour, Sup),
    check(Active0 =:= ?DYNSUP_CHILDREN, {active, Active0}),
    Result =
        case Figure of
            start ->
                {ok, (T1 - T0) / ?DYNSUP_CHILDREN};
            restart_all ->
                ?DYNSUP_CHILDREN = collect_ready(?DYNSUP_CHILDREN, 0),
                T2 = now_ns(),
                lists:foreach(fun(P) -> exit(P, kill) end, Pids),
                %% Every replacement's init says so; then the count must
                %% agree.
                Ready = collect_ready(?DYNSUP_CHILDREN, 0),
                check(Ready =:= ?DYNSUP_CHILDREN, {ready, Ready}),
                wait_active(Flavour, Sup),
                T3 = now_ns(),
                check(not lists:any(fun erlang:is_process_alive/1, Pids),
                      killed_child_alive),
                {ok, (T3 - T2) / 1000000};
            shutdown ->
                none
        end,
    T4 = now_ns(),
    ok = gen_server:stop(Sup, normal, infinity),
    T5 = now_ns(),
    case Figure of
        shutdown ->
            check(not lists:any(fun erlang:is_process_alive/1, Pids),
                  child_outlived_supervisor),
            {ok, (T5 - T4) / 1000000};
        _ ->
            Result
    end.

dynsup_start(elixir) ->
    {ok, Sup} = 'Elixir.DynamicSupervisor':start_link(
                  [{strategy, one_for_one}, {max_restarts, ?MAX_RESTARTS},
                   {max_seconds, 5}]),
    Sup;
dynsup_start(erlang) ->
    {ok, Sup} = bench_sup:start_link(
                  #{strategy => simple_one_for_one,
                    intensity => ?MAX_RESTARTS, period => 5},
                  [#{id => worker, start => {bench_server, start_link, []}}]),
    Sup.

dynsup_start_children(_Flavour, _Sup, _Notify, 0, Pids) ->
    Pids;
dynsup_start_children(elixir, Sup, Notify, N, Pids) ->
    {ok, Pid} = 'Elixir.DynamicSupervisor':start_child(
                  Sup, #{id => worker,
                         start => {bench_server, start_link, [Notify]}}),
    dynsup_start_children(elixir, Sup, Notify, N - 1, [Pid | Pids]);
dynsup_start_children(erlang, Sup, Notify, N, Pids) ->
    {ok, Pid} = supervisor:start_child(Sup, [Notify]),
    dynsup_start_children(erlang, Sup, Notify, N - 1, [Pid | Pids]).

dynsup_active(elixir, Sup) ->
    maps:get(active, 'Elixir.DynamicSupervisor':count_children(Sup));
dynsup_active(erlang, Sup) ->
    proplists:get_value(active, supervisor:count_children(Sup)).

wait_active(Flavour, Sup) ->
    case dynsup_active(Flavour, Sup) of
        ?DYNSUP_CHILDREN -> ok;
        _ -> timer:sleep(?DYNSUP_POLL_MS), wait_active(Flavour, Sup)
    end.

%% registry_register, registry_lookup: Elixir's Registry, unique keys, two
%% partitions. register: ns per key, 100,000 waiting processes told to go
%% at once, each registering its own key (its index) and saying so.
%% lookup: ns per lookup, 1,000,000 of them by two processes at once over
%% those keys, each checked. wake_100k: the same run as register without
%% the registration (register's figure less this one is the registration).
registry(Figure) ->
    process_flag(message_queue_data, off_heap),
    {ok, _} = 'Elixir.Registry':start_link(
                [{keys, unique}, {name, bench_registry}, {partitions, 2}]),
    Self = self(),
    Register = Figure =/= wake,
    Holders = [spawn(fun() -> reg_holder(Self, I, Register) end)
               || I <- lists:seq(0, ?REG_PROCS - 1)],
    T0 = now_ns(),
    lists:foreach(fun(P) -> P ! go end, Holders),
    Done = collect_done(?REG_PROCS, 0),
    T1 = now_ns(),
    check(Done =:= ?REG_PROCS, {registered, Done}),
    Count = 'Elixir.Registry':count(bench_registry),
    Expected = case Register of true -> ?REG_PROCS; false -> 0 end,
    check(Count =:= Expected, {count, Count}),
    case Figure of
        wake ->
            {ok, (T1 - T0) / ?REG_PROCS};
        register ->
            {ok, (T1 - T0) / ?REG_PROCS};
        lookup ->
            PerWorker = ?LOOKUP_TOTAL div ?LOOKUP_WORKERS,
            T2 = now_ns(),
            [spawn(fun() -> Self ! {looked_up, reg_lookups(W * 50000, 0,
                                                           PerWorker, 0)}
                   end)
             || W <- lists:seq(0, ?LOOKUP_WORKERS - 1)],
            Bad = collect_bad(?LOOKUP_WORKERS, 0),
            T3 = now_ns(),
            check(Bad =:= 0, {wrong_lookups, Bad}),
            {ok, (T3 - T2) / ?LOOKUP_TOTAL}
    end.

reg_holder(Main, Key, Register) ->
    receive go -> ok end,
    case Register of
        true -> {ok, _} = 'Elixir.Registry':register(bench_registry, Key, Key);
        false -> ok
    end,
    Main ! registered,
    receive stop -> ok end.

reg_lookups(_First, N, N, Bad) ->
    Bad;
reg_lookups(First, I, N, Bad) ->
    Key = (First + I * 7919) rem ?REG_PROCS,
    case 'Elixir.Registry':lookup(bench_registry, Key) of
        [{_Pid, Key}] -> reg_lookups(First, I + 1, N, Bad);
        _ -> reg_lookups(First, I + 1, N, Bad + 1)
    end.

collect_done(0, Count) -> Count;
collect_done(N, Count) ->
    receive registered -> collect_done(N - 1, Count + 1) end.

collect_bad(0, Bad) -> Bad;
collect_bad(N, Bad) -> receive {looked_up, B} -> collect_bad(N - 1, Bad + B) end.

%% tcp_echo_rps: requests per second. A gen_tcp server in passive mode,
%% an acceptor spawning one process per connection, which recv's and sends
%% back what came; the load is bench/tcp_client.c ($BENCH_TCP_CLIENT),
%% run as a port program, whose checked figure is this one.
tcp_echo_rps() ->
    {ok, L} = gen_tcp:listen(0, [binary, {active, false}, {packet, raw},
                                 {ip, {127, 0, 0, 1}}, {nodelay, true},
                                 {reuseaddr, true}, {backlog, 1024}]),
    {ok, Port} = inet:port(L),
    Acceptor = spawn(fun() -> echo_accept(L) end),
    ok = gen_tcp:controlling_process(L, Acceptor),
    Client = os:getenv("BENCH_TCP_CLIENT"),
    check(Client =/= false, no_bench_tcp_client),
    P = open_port({spawn_executable, Client},
                  [{args, [integer_to_list(Port), ?ECHO_CONNS, ?ECHO_SECONDS]},
                   {line, 64}, exit_status, use_stdio]),
    Out = client_output(P, []),
    exit(Acceptor, kill),
    {ok, list_to_float(Out)}.

client_output(P, Acc) ->
    receive
        {P, {data, {eol, Line}}} -> client_output(P, Acc ++ Line);
        {P, {exit_status, 0}} -> Acc;
        {P, {exit_status, S}} -> throw({client_failed, S})
    end.

echo_accept(L) ->
    {ok, S} = gen_tcp:accept(L),
    Pid = spawn(fun() -> receive go -> echo_loop(S) end end),
    ok = gen_tcp:controlling_process(S, Pid),
    Pid ! go,
    echo_accept(L).

echo_loop(S) ->
    case gen_tcp:recv(S, 0) of
        {ok, Data} ->
            case gen_tcp:send(S, Data) of
                ok -> echo_loop(S);
                {error, _} -> gen_tcp:close(S)
            end;
        {error, _} ->
            gen_tcp:close(S)
    end.

%% chat_fanout: deliveries per second. A room gen_server (bench_room) with
%% 1,000 member processes; FANOUT_MESSAGES broadcast casts, each sent by
%% the room to every member, which checks it sees 0, 1, 2, ... in order.
%% Timed from the first cast to the last member's report.
chat_fanout() ->
    Self = self(),
    {ok, Room} = gen_server:start(bench_room, [], []),
    [ok = gen_server:call(Room, {join, spawn(fun() -> member(Self, 0) end)})
     || _ <- lists:seq(1, ?FANOUT_MEMBERS)],
    T0 = now_ns(),
    [gen_server:cast(Room, {broadcast, Seq})
     || Seq <- lists:seq(0, ?FANOUT_MESSAGES - 1)],
    Done = collect_members(?FANOUT_MEMBERS, 0),
    T1 = now_ns(),
    gen_server:stop(Room),
    check(Done =:= ?FANOUT_MEMBERS, {members_done, Done}),
    {ok, ?FANOUT_MEMBERS * ?FANOUT_MESSAGES / ((T1 - T0) / 1.0e9)}.

member(Main, ?FANOUT_MESSAGES) ->
    Main ! member_done;
member(Main, Want) ->
    receive
        {chat, Want} -> member(Main, Want + 1);
        {chat, Other} -> Main ! {member_bad, Want, Other}
    end.

collect_members(0, Done) -> Done;
collect_members(N, Done) ->
    receive
        member_done -> collect_members(N - 1, Done + 1);
        {member_bad, Want, Got} -> throw({out_of_order, Want, Got})
    end.

check(true, _What) -> ok;
check(false, What) -> throw({wrong_result, What}).
