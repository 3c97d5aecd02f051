%% The supervisor callback module of beam_bench: its init/1 returns the
%% flags and child specs it is started with.
-module(bench_sup).
-behaviour(supervisor).
-export([start_link/2, init/1]).

start_link(Flags, Children) ->
    supervisor:start_link(?MODULE, {Flags, Children}).

init({Flags, Children}) -> {ok, {Flags, Children}}.
